import { createApp } from 'vue';
import 'vant/lib/index.css';
import Vant from 'vant';
import App from './App.vue';
import { router } from './router.js';

createApp(App).use(Vant).use(router).mount('#app');
